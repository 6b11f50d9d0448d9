# tflint for the reference stack (terraform/ and terraform/modules/*). The legacy stacks under
# terraform/legacy/ are defective on purpose and are not linted (CI and pre-commit skip them).
#
#   tflint --init --config "$PWD/.tflint.hcl"
#   tflint --chdir=terraform --config "$PWD/.tflint.hcl"

config {
  # Follow the local module calls from the root, so module inputs are checked with real values.
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "recommended"
}

plugin "aws" {
  enabled = true
  version = "0.45.0"
  source  = "github.com/terraform-linters/tflint-ruleset-aws"
}
