"""Everything that runs or reads Terraform: binary, provider mirror, workspace, runner, plan model."""
