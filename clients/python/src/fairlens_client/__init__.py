"""FairLens client: log a model's predictions and outcomes to a FairLens server from a model service.

from fairlens_client import Client

client = Client("https://fairlens.example", api_key="...")
credit = client.model("credit_model", "3")
credit.log_prediction("app-1", attributes={"sex": "Female"}, y_pred=1, score=0.82)
credit.log_frame(df, id="application_id", decision="approved", protected=["sex", "race"], score="p")
client.close()
"""

from fairlens_client.aio import AsyncClient, AsyncModel
from fairlens_client.client import BatchFailure, Client, Model, Stats
from fairlens_client.errors import (
    APIError,
    AuthenticationFailed,
    BadRequest,
    FairLensError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServerError,
    TransportError,
    Unprocessable,
    UnsupportedMediaType,
)
from fairlens_client.transport import RetryPolicy

__all__ = [
    "APIError",
    "AsyncClient",
    "AsyncModel",
    "AuthenticationFailed",
    "BadRequest",
    "BatchFailure",
    "Client",
    "FairLensError",
    "Model",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "Stats",
    "TransportError",
    "Unprocessable",
    "UnsupportedMediaType",
]
__version__ = "0.1.0"
