# Dev: cheapest footprint that still exercises every component. No secrets here: secret values
# go to Secrets Manager (see modules/iam/README.md).
environment            = "dev"
region                 = "eu-west-1"
az_count               = 2
single_nat_gateway     = true
force_destroy_buckets  = true
db_multi_az            = false
db_deletion_protection = false
db_instance_class      = "db.t4g.small"

# Apply from a workstation: open the API to your own address range only.
endpoint_public_access       = true
endpoint_public_access_cidrs = ["203.0.113.0/24"]

system_node_group = {
  instance_types = ["t3.xlarge"]
  min_size       = 1
  max_size       = 3
}

gpu_node_groups = {
  a10g-1 = { instance_types = ["g5.2xlarge"], max_size = 1, capacity_type = "SPOT" }
}

# GPU only while someone is talking to the twin.
engine_scale_to_zero  = true
engine_max_replicas   = 1
training_gpus_per_job = 1
training_max_gpus     = 1
# QLoRA of up to 8B on one A10G; scratch 53 GiB, node disk 123 GiB (the default 200 holds it).
training_max_model_params_billion = 8

# TGI, the module's default engine (prod runs vLLM: set "vllm" and quantize "bitsandbytes" to
# try it here). The twin is a LoRA adapter on the 4-bit base.
# The twins the engine serves (slugs as `twin authors list` prints them); add an author here
# after their first promotion.
twin_authors = ["tamsin-vale"]

serving_engine = "tgi"
engine = {
  max_input_tokens = 2048
  max_total_tokens = 3072
  quantize         = "bitsandbytes-nf4"
}

user_code_image = { repository = "<account id>.dkr.ecr.eu-west-1.amazonaws.com/llm-twin/user-code", tag = "0.1.0" }
api_image       = "<account id>.dkr.ecr.eu-west-1.amazonaws.com/llm-twin/serving:0.1.0"
training_image  = "<account id>.dkr.ecr.eu-west-1.amazonaws.com/llm-twin/training:0.1.0"
