"""The HTTP API (FastAPI) over `qa.service.QAService`: schemas, routes and errors, nothing else."""
