"""HTTP handlers: thin translations between JSON and the storage and job modules."""
