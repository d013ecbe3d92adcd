"""The eleven pipeline stages, each with its summary model beside it; `order` lists them."""
