variable "service" {
  description = "Service name; a DNS label."
  type        = string
  default     = "${{ values.name }}"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.service)) && length(var.service) <= 63
    error_message = "service must be a DNS label: lowercase letters, digits and dashes, at most 63 characters."
  }
}

variable "env" {
  description = "Environment name: preview environments are pr-<number>; otherwise staging, production, …"
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.env))
    error_message = "env must be a DNS label, for example pr-42, staging or production."
  }
}

variable "region" {
  description = "AWS region for this environment's resources."
  type        = string
  default     = "us-east-1"
}

variable "tags" {
  description = "Extra tags for every resource (cost centre, data classification, …)."
  type        = map(string)
  default     = {}
}
