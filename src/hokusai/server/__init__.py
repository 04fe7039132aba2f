"""The platform API (FastAPI). Business logic lives outside this package; routes stay thin."""
