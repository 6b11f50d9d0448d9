"""Lambda functions, and the API Gateway REST and HTTP APIs in front of them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackprobe.aws.readers.base import ServiceReader


class LambdaReader(ServiceReader):
    service = "lambda"

    def functions(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing("functions", lambda: self.paginate("list_functions", "Functions"))


class ApiGatewayReader(ServiceReader):
    service = "apigateway"

    def rest_apis(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing("rest apis", lambda: self.paginate("get_rest_apis", "items"))


class ApiGatewayV2Reader(ServiceReader):
    service = "apigatewayv2"

    def apis(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing("apis", lambda: self.paginate("get_apis", "Items"))
