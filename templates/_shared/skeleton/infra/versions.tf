terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }

  # State: idp runs this module once per environment. Configure a remote backend
  # (for example `backend "s3" {}` with -backend-config per environment) before
  # staging and production share it; previews can keep the local default.
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}
