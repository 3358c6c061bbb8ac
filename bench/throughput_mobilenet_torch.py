"""PyTorch twin of bench/throughput.ts's MobileNetV2 row: torchvision's mobilenet_v2 (1.0, random
weights) at 224 px, the same two measurements as the tfjs row:
  forward: features -> global average pool (the backbone feature-extraction path), inference mode;
  top:     forward of the whole net, backward + SGD update of the top blocks only (Keras block_13 ..
           block_16 and Conv_1 = torchvision features[14:]), the earlier blocks frozen, plus a
           linear head of 10 classes.
Prints one line: RESULT {json}. Run through bench/throughput.ts (tuned glibc malloc environment).
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

# Keras' block_k is torchvision's features[k + 1] (features[0] is the stem, features[18] Conv_1).
FIRST_TRAINED_FEATURE = 14


def median_seconds(step, warmup, steps):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    features = torchvision.models.mobilenet_v2(weights=None).features
    head = nn.Linear(1280, 10)
    xs = torch.randn(a.batch, 3, 224, 224)
    ys = torch.randint(0, 10, (a.batch,))

    features.eval()

    def forward_step():
        with torch.inference_mode():
            return F.adaptive_avg_pool2d(features(xs), 1).flatten(1)[0, 0].item()

    forward_s = median_seconds(forward_step, 1, a.steps)

    for i, block in enumerate(features):
        for param in block.parameters():
            param.requires_grad_(i >= FIRST_TRAINED_FEATURE)
    trained = [q for q in features.parameters() if q.requires_grad] + list(head.parameters())
    opt = torch.optim.SGD(trained, lr=0.01)
    features.train()

    def top_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(head(F.adaptive_avg_pool2d(features(xs), 1).flatten(1)), ys)
        loss.backward()
        opt.step()
        return loss.item()

    top_s = median_seconds(top_step, 1, a.steps)
    print("RESULT " + json.dumps(dict(
        torch=torch.__version__, torchvision=torchvision.__version__, threads=torch.get_num_threads(),
        forwardImagesPerSec=a.batch / forward_s, topTrainImagesPerSec=a.batch / top_s)))


if __name__ == "__main__":
    main()
