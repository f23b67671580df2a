"""The client's version, tied to the procd API it speaks.

The major version follows the API package: 1.x speaks ``procd.v1``. Minor
versions add features compatible with it; a ``procd.v2`` client would be 2.x.
"""

#: The gRPC API package this client speaks.
API_PACKAGE = "procd.v1"

__version__ = "1.0.0"
