# Prod: Multi-AZ everything, a warm vLLM replica serving every twin's adapter, four-GPU training jobs.
environment = "prod"
region      = "eu-west-1"
az_count    = 3

# The API endpoint stays private: apply from a runner inside the VPC or over VPN.
endpoint_public_access = false

system_node_group = {
  instance_types = ["m6i.xlarge"]
  min_size       = 2
  max_size       = 6
}

gpu_node_groups = {
  a10g-1 = { instance_types = ["g5.2xlarge"], max_size = 4 }
  a10g-4 = { instance_types = ["g5.12xlarge"], max_size = 1 }
  # 70B (LoRA under ZeRO-3 across 8 GPUs, ~19 GB each; see the README's training section): add
  # p5 = { instance_types = ["p5.48xlarge"], max_size = 1, disk_size = 400 }, set
  # training_gpus_per_job = training_max_gpus = 8 and training_max_model_params_billion = 70
  # (scratch 309 GiB).
}

db_instance_class = "db.m7g.large"

engine_scale_to_zero              = false
engine_min_replicas               = 1
engine_max_replicas               = 4
engine_target_concurrent_requests = 8
training_gpus_per_job             = 4
training_max_gpus                 = 4
# 4 x A10G (24 GB): LoRA of up to 14B under ZeRO-3 (~8 GB a GPU); scratch 80 GiB.
training_max_model_params_billion = 14

# vLLM: TGI is in maintenance mode since December 2025. Adapters are served per request.
# The twins the engine serves (slugs as `twin authors list` prints them); add an author here
# after their first promotion.
twin_authors = ["tamsin-vale"]

serving_engine = "vllm"
engine = {
  max_input_tokens = 3072
  max_total_tokens = 4096
}

user_code_image = { repository = "<account id>.dkr.ecr.eu-west-1.amazonaws.com/llm-twin/user-code", tag = "0.1.0" }
api_image       = "<account id>.dkr.ecr.eu-west-1.amazonaws.com/llm-twin/serving:0.1.0"
training_image  = "<account id>.dkr.ecr.eu-west-1.amazonaws.com/llm-twin/training:0.1.0"
