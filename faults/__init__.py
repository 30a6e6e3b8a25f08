"""Fault tests (`make faults`): the service on its own PostgreSQL and Redis, under load, through
worker kills and database and Redis outages."""
