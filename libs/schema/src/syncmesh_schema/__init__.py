"""syncmesh wire models: client frames, mutations, bus messages, subjects and codes.

Depends on pydantic only, so SDKs can import it without any server code.
"""

from .auth import TokenClaims, glob_match_any
from .base import ClientInput, JSONObject, JSONValue, WireModel
from .channels import Channel, ChannelRef, parse_channel
from .client import CLIENT_FRAME, SERVER_FRAME, ClientFrame, ServerFrame
from .codes import ERROR_CODES, HTTP_STATUS_BY_ERROR, CloseCode, ErrorCode
from .ids import user_from_token, user_token, validate_id
from .mutations import ConflictInfo, Mutation, MutationResult
from .service import ServiceInfo

__all__ = [
    "CLIENT_FRAME",
    "ERROR_CODES",
    "HTTP_STATUS_BY_ERROR",
    "SERVER_FRAME",
    "Channel",
    "ChannelRef",
    "ClientFrame",
    "ClientInput",
    "CloseCode",
    "ConflictInfo",
    "ErrorCode",
    "JSONObject",
    "JSONValue",
    "Mutation",
    "MutationResult",
    "ServerFrame",
    "ServiceInfo",
    "TokenClaims",
    "WireModel",
    "glob_match_any",
    "parse_channel",
    "user_from_token",
    "user_token",
    "validate_id",
]
