"""Everything that touches pytest: hook glue, roles, collection, fixtures, options, xdist."""
