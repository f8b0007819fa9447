#!/usr/bin/env python3
"""A generic gRPC client for incontra, driven by server reflection.

    pip install grpcio==1.85.1 grpcio-reflection==1.85.1 protobuf==7.36.2
    python3 scripts/grpc_call.py list
    python3 scripts/grpc_call.py incontra.match.v1.MatchService/SearchVacancies '{"query": "cuoco", "limit": 5}'

It knows nothing of incontra's .proto files: it asks the server for them, as
grpcurl does, so it works for any unary method of any reflected service.
A bearer token is read from the TOKEN environment variable (the demo prints
one and writes it to data-dir/auth/operator.jwt).
"""
import json
import os
import sys

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


def main() -> int:
    target = "127.0.0.1:50051"
    args = sys.argv[1:]
    if args and args[0].startswith("--target="):
        target = args.pop(0).split("=", 1)[1]
    if not args:
        print(__doc__)
        return 2
    channel = grpc.insecure_channel(target)
    database = ProtoReflectionDescriptorDatabase(channel)
    if args[0] == "list":
        for name in database.get_services():
            print(name)
        return 0
    service_name, method_name = args[0].rsplit("/", 1)
    pool = descriptor_pool.DescriptorPool(database)
    method = pool.FindServiceByName(service_name).FindMethodByName(method_name)
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    request = json_format.Parse(args[1] if len(args) > 1 else "{}", request_class())
    call = channel.unary_unary(
        f"/{service_name}/{method_name}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    token = os.environ.get("TOKEN")
    metadata = [("authorization", f"Bearer {token}")] if token else None
    response = call(request, timeout=30, metadata=metadata)
    print(json.dumps(json_format.MessageToDict(response), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
