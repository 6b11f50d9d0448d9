# The reference stack's design card, as far as native `terraform test` can express it (bench part (g)).
#
# Written the way the framework encourages: one `run` per design-card group, each `command = apply`.
# Terraform applies the configuration in the first run, plans (with a full refresh) and applies again in
# every later run, and destroys everything after the last one. Assertions read the state Terraform wrote
# after apply. Child-module resources are only reachable through outputs, hence the `bench_*` outputs that
# bench/run copies from bench/native/overlay/ into its private copy of terraform/.
#
# Run by bench/run as:
#   terraform test -var-file=<repo>/terraform/environments/prod.tfvars -var allow_destroy_for_tests=true
# against `stackprobe serve`, with the same provider override and CLI config as the bare-terraform baseline.

run "storage_is_private_and_encrypted" {
  command = apply

  assert {
    condition     = length(module.storage.bench_public_access_blocks) >= 3
    error_message = "Expected a public access block on the logs bucket and on every data bucket."
  }

  assert {
    condition = alltrue([
      for pab in module.storage.bench_public_access_blocks :
      pab.block_public_acls && pab.block_public_policy && pab.ignore_public_acls && pab.restrict_public_buckets
    ])
    error_message = "Every bucket must turn on all four S3 Block Public Access settings."
  }

  assert {
    condition = length(module.storage.bench_data_bucket_encryption) >= 2 && alltrue([
      for sse in module.storage.bench_data_bucket_encryption : alltrue([
        for rule in sse.rule :
        rule.apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms"
        && rule.apply_server_side_encryption_by_default[0].kms_master_key_id == module.kms.key_arn
        && rule.bucket_key_enabled
      ])
    ])
    error_message = "Data buckets must default to SSE-KMS with the stack's customer-managed key and the bucket key on."
  }

  assert {
    # The one exception: ALB access-log delivery only supports SSE-S3 target buckets.
    condition = alltrue([
      for sse in module.storage.bench_logs_bucket_encryption : alltrue([
        for rule in sse.rule : rule.apply_server_side_encryption_by_default[0].sse_algorithm == "AES256"
      ])
    ])
    error_message = "The ALB access-log bucket must use SSE-S3 (log delivery drops objects for SSE-KMS buckets)."
  }
}

run "network_allows_only_the_intended_paths" {
  command = apply

  assert {
    condition = alltrue([
      for rule in concat(
        module.edge.bench_ingress_rules,
        module.service.bench_ingress_rules,
        module.database.bench_ingress_rules,
        module.cache.bench_ingress_rules,
        module.network.bench_ingress_rules,
      ) :
      (rule.cidr_ipv4 != "0.0.0.0/0" && rule.cidr_ipv6 != "::/0") || (
        rule.security_group_id == module.edge.security_group_id
        && contains([80, 443], rule.from_port)
        && rule.to_port == rule.from_port
      )
    ])
    error_message = "Only the load balancer may accept traffic from anywhere, and only on ports 80 and 443."
  }

  assert {
    condition = length([
      for rule in module.edge.bench_ingress_rules : rule if rule.cidr_ipv4 == "0.0.0.0/0" && rule.from_port == 443
    ]) == 1
    error_message = "The load balancer must accept HTTPS from the internet."
  }

  assert {
    condition = length(module.network.bench_default_security_groups) == 1 && alltrue([
      for sg in module.network.bench_default_security_groups : length(sg.ingress) == 0 && length(sg.egress) == 0
    ])
    error_message = "The VPC's default security group must have no rules."
  }
}

run "health_check_matches_the_app" {
  command = apply

  assert {
    condition     = length(module.edge.bench_target_groups) == 1
    error_message = "Expected one target group for the API."
  }

  assert {
    condition = alltrue([
      for tg in module.edge.bench_target_groups : alltrue([
        for hc in tg.health_check :
        hc.enabled && hc.path == "/health" && hc.matcher == "200" && hc.port == "traffic-port" && hc.protocol == "HTTP"
      ])
    ])
    error_message = "The target group must check GET /health on the traffic port and expect 200."
  }

  assert {
    condition = alltrue([
      for tg in module.edge.bench_target_groups : alltrue([for hc in tg.health_check : hc.timeout < hc.interval])
    ])
    error_message = "The health check timeout must be shorter than its interval."
  }
}

run "services_are_private_and_roll_back" {
  command = apply

  assert {
    condition     = length(module.service.bench_ecs_services) == 2
    error_message = "Expected the api and worker ECS services."
  }

  assert {
    condition = alltrue([
      for svc in module.service.bench_ecs_services :
      length(svc.network_configuration) == 1 && alltrue([for net in svc.network_configuration : !net.assign_public_ip])
    ])
    error_message = "ECS tasks must not get a public IP."
  }

  assert {
    condition = alltrue([
      for svc in module.service.bench_ecs_services :
      length(svc.deployment_circuit_breaker) == 1 && alltrue([
        for breaker in svc.deployment_circuit_breaker : breaker.enable && breaker.rollback
      ])
    ])
    error_message = "Every ECS service must have the deployment circuit breaker with rollback."
  }
}

run "autoscaling_keeps_capacity" {
  command = apply

  assert {
    condition     = length(module.service.bench_scalable_targets) == 2
    error_message = "Expected a scalable target for each ECS service."
  }

  assert {
    condition = var.environment != "prod" || alltrue([
      for target in module.service.bench_scalable_targets : target.min_capacity >= 2
    ])
    error_message = "In prod every service must keep at least two tasks."
  }
}

run "database_is_durable_and_private" {
  command = apply

  assert {
    condition     = length(module.database.bench_db_instances) == 1
    error_message = "Expected one primary database instance."
  }

  assert {
    condition     = alltrue([for db in module.database.bench_db_instances : db.backup_retention_period >= 14])
    error_message = "Database backups must be kept for at least 14 days."
  }

  assert {
    condition     = alltrue([for db in module.database.bench_db_instances : db.multi_az])
    error_message = "The database must be Multi-AZ."
  }

  assert {
    condition     = alltrue([for db in module.database.bench_db_instances : db.storage_encrypted])
    error_message = "Database storage must be encrypted."
  }

  assert {
    condition     = alltrue([for db in module.database.bench_db_instances : !db.publicly_accessible])
    error_message = "The database must not be publicly accessible."
  }
}

run "database_connections_are_alarmed" {
  command = apply

  assert {
    condition = length([
      for alarm in module.database.bench_connection_alarms : alarm
      if alarm.namespace == "AWS/RDS" && alarm.metric_name == "DatabaseConnections"
      && alarm.dimensions["DBInstanceIdentifier"] == module.database.db_instance_identifier
      && contains(alarm.alarm_actions, module.observability.alarm_topic_arn)
    ]) == 1
    error_message = "Expected an alarm on the database's DatabaseConnections that notifies the alarm topic."
  }
}
