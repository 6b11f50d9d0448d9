"""The deployed network as data, and the reachability rules the network checks reason with.

`model` reads VPCs, subnets, route tables, NACLs, security groups and every network-attached
workload (load balancers, ECS services, databases, caches, proxies, instances, Lambda functions)
into plain dataclasses; `reachability` answers "can this source reach that workload on this port,
and through what?" with paths a reader can verify.
"""

from stackprobe.network.model import Network, Workload, WorkloadKind, read_network
from stackprobe.network.reachability import Graph, Path, Source

__all__ = ["Graph", "Network", "Path", "Source", "Workload", "WorkloadKind", "read_network"]
