# An OpenTofu configuration applied to Paddock by run.sh: a Lambda Managed
# Instances capacity provider, an LMI function on it (published, with an
# alias and a resource policy on the alias) and a default-mode function.
# Every AWS call goes to var.endpoint (Paddock); nothing touches AWS.

terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

variable "endpoint" {
  type        = string
  description = "Paddock's Lambda API, e.g. http://127.0.0.1:9400"
}

variable "access_key" {
  type = string
}

variable "secret_key" {
  type      = string
  sensitive = true
}

variable "zip_path" {
  type        = string
  default     = ""
  description = "the echo example's zip; empty: examples/echo/echo.zip of this repository"
}

variable "name_prefix" {
  type    = string
  default = "iac"
}

locals {
  zip = var.zip_path != "" ? var.zip_path : "${path.module}/../../examples/echo/echo.zip"
}

provider "aws" {
  region     = "us-east-1"
  access_key = var.access_key
  secret_key = var.secret_key

  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {
    lambda = var.endpoint
  }
}

resource "aws_lambda_capacity_provider" "cp" {
  name = "${var.name_prefix}-cp"

  vpc_config {
    subnet_ids         = ["subnet-1"]
    security_group_ids = ["sg-1"]
  }

  permissions_config {
    capacity_provider_operator_role_arn = "arn:aws:iam::000000000000:role/op"
  }

  tags = {
    stack = "iac"
  }
}

resource "aws_lambda_function" "lmi" {
  function_name    = "${var.name_prefix}-lmi"
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  role             = "arn:aws:iam::000000000000:role/fn"
  memory_size      = 2048
  filename         = local.zip
  source_code_hash = filebase64sha256(local.zip)
  publish          = true

  capacity_provider_config {
    lambda_managed_instances_capacity_provider_config {
      capacity_provider_arn = aws_lambda_capacity_provider.cp.arn
    }
  }

  tags = {
    stack = "iac"
  }
}

resource "aws_lambda_alias" "live" {
  name             = "live"
  function_name    = aws_lambda_function.lmi.function_name
  function_version = aws_lambda_function.lmi.version
}

# aws_lambda_function_scaling_config (PutFunctionScalingConfig, min 1 max 2)
# is not in the provider build used here: the only main-branch pseudo-version
# the Go module proxy serves, v1.60.1-0.20260602190131-5f2286d6d836 (6.48.0
# unreleased), has aws_lambda_capacity_provider and the function's
# capacity_provider_config but no scaling-config resource (no
# PutFunctionScalingConfig call anywhere in internal/). With a provider that
# has it, this is the resource to add:
#
# resource "aws_lambda_function_scaling_config" "lmi" {
#   function_name = aws_lambda_function.lmi.function_name
#   qualifier     = aws_lambda_function.lmi.version
#   function_scaling_config {
#     min_execution_environments = 1
#     max_execution_environments = 2
#   }
# }

resource "aws_lambda_permission" "s3" {
  statement_id  = "AllowS3"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.lmi.function_name
  principal     = "s3.amazonaws.com"
  qualifier     = aws_lambda_alias.live.name
}

resource "aws_lambda_function" "default" {
  function_name    = "${var.name_prefix}-default"
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  role             = "arn:aws:iam::000000000000:role/fn"
  memory_size      = 128
  filename         = local.zip
  source_code_hash = filebase64sha256(local.zip)

  tags = {
    stack = "iac"
  }
}

output "capacity_provider_arn" {
  value = aws_lambda_capacity_provider.cp.arn
}

output "lmi_version" {
  value = aws_lambda_function.lmi.version
}

output "alias_arn" {
  value = aws_lambda_alias.live.arn
}
