"""The generated protobuf and gRPC modules, imported from one place.

The files under ``_gen/`` are produced by ``clients/python/generate.sh`` from
``proto/procd/v1/procd.proto``; do not edit them by hand.
"""

from ._gen.procd.v1 import procd_pb2 as pb  # noqa: F401
from ._gen.procd.v1 import procd_pb2_grpc as pb_grpc  # noqa: F401

__all__ = ["pb", "pb_grpc"]
