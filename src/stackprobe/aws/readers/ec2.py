"""EC2: the network (VPCs, subnets, route tables, NACLs, security groups, gateways, endpoints, interfaces,
prefix lists, flow logs), instances and Elastic IPs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackprobe.aws.readers.base import ServiceReader

Record = Mapping[str, Any]


class Ec2Reader(ServiceReader):
    service = "ec2"

    def _describe(self, operation: str, key: str) -> tuple[Record, ...]:
        return self.listing(operation, lambda: self.paginate(operation, key))

    def vpcs(self) -> tuple[Record, ...]:
        return self._describe("describe_vpcs", "Vpcs")

    def subnets(self) -> tuple[Record, ...]:
        return self._describe("describe_subnets", "Subnets")

    def route_tables(self) -> tuple[Record, ...]:
        return self._describe("describe_route_tables", "RouteTables")

    def network_acls(self) -> tuple[Record, ...]:
        return self._describe("describe_network_acls", "NetworkAcls")

    def security_groups(self) -> tuple[Record, ...]:
        return self._describe("describe_security_groups", "SecurityGroups")

    def nat_gateways(self) -> tuple[Record, ...]:
        """Every NAT gateway, deleted ones included (AWS lists them for a while): callers keep the live ones."""
        return self._describe("describe_nat_gateways", "NatGateways")

    def vpc_endpoints(self) -> tuple[Record, ...]:
        return self._describe("describe_vpc_endpoints", "VpcEndpoints")

    def internet_gateways(self) -> tuple[Record, ...]:
        return self._describe("describe_internet_gateways", "InternetGateways")

    def network_interfaces(self) -> tuple[Record, ...]:
        return self._describe("describe_network_interfaces", "NetworkInterfaces")

    def managed_prefix_lists(self) -> tuple[Record, ...]:
        return self._describe("describe_managed_prefix_lists", "PrefixLists")

    def prefix_list_entries(self, prefix_list_id: str) -> tuple[Record, ...]:
        return self.read(
            ("prefix list entries", prefix_list_id),
            lambda: tuple(self.paginate("get_managed_prefix_list_entries", "Entries", PrefixListId=prefix_list_id)),
        )

    def instances(self) -> tuple[Record, ...]:
        """Every instance of every reservation, in any state (terminated ones are listed for a while)."""
        return self.listing(
            "instances",
            lambda: [i for r in self.paginate("describe_instances", "Reservations") for i in r.get("Instances", [])],
        )

    def flow_logs(self) -> tuple[Record, ...]:
        return self._describe("describe_flow_logs", "FlowLogs")

    def addresses(self) -> tuple[Record, ...]:
        return self._describe("describe_addresses", "Addresses")
