"""HTTP routes, one module per resource; thin: parse, authorise, call a service, shape the answer."""
