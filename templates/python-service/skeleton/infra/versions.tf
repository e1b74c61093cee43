terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }

  # State: idp runs this module once per environment (one workspace each) and fills
  # in this partial configuration at `terraform init`: the state of each environment
  # is a Secret tfstate-<workspace>-idp in namespace idp-system on the environment's
  # cluster, locked through a Lease, so `idp env down` works from any machine. To
  # keep state elsewhere, replace it with a backend of your own (e.g. backend "s3");
  # idp then leaves the backend configuration to you.
  backend "kubernetes" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}
