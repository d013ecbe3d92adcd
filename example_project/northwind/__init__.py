"""Northwind's support feature: the application code the `order_desk` suite tests."""
