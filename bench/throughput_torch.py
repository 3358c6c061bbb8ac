"""PyTorch twin of bench/throughput.ts: the same residual CNN (lib/ml/models/resnet.ts), the same
training step (forward + backward + SGD update) and prediction, timed the same way.
Prints one line: RESULT {json}. Run through bench/throughput.ts, which sets the tuned glibc malloc
environment (MALLOC_MMAP_MAX_=0 ...): without it PyTorch here pays page faults for every large
tensor and runs 3-8x slower than it should.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResidualBlock(nn.Module):
    """ResNet v1 basic block, as residualBlock() in lib/ml/models/resnet.ts."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu((x if self.proj is None else self.proj(x)) + y)


class ResNet(nn.Module):
    """buildResNet(): stem, 3 stages of `blocks` blocks (width, 2x, 4x), global average pool, dense."""

    def __init__(self, channels, num_classes, width, blocks):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        layers, cin = [], width
        for stage in range(3):
            cout = width * 2**stage
            for b in range(blocks):
                layers.append(ResidualBlock(cin, cout, 2 if stage > 0 and b == 0 else 1))
                cin = cout
        self.stages = nn.Sequential(*layers)
        self.logits = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.stages(self.stem(x))
        return self.logits(F.adaptive_avg_pool2d(x, 1).flatten(1))


MODELS = {"small": dict(input_size=32, channels=3, num_classes=10, width=32, blocks=1)}


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
    p.add_argument("--model", default="small", choices=sorted(MODELS))
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--predict-batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)  # Debian's torch defaults to 1 thread here
    torch.manual_seed(0)
    cfg = MODELS[a.model]
    model = ResNet(cfg["channels"], cfg["num_classes"], cfg["width"], cfg["blocks"])
    size, ch = cfg["input_size"], cfg["channels"]
    xs = torch.randn(a.batch, ch, size, size)
    ys = torch.randint(0, cfg["num_classes"], (a.batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xs), ys)
        loss.backward()
        opt.step()
        return loss.item()

    model.train()
    train_s = median_seconds(train_step, a.warmup, a.steps)
    model.eval()
    xp = torch.randn(a.predict_batch, ch, size, size)

    def predict_step():
        with torch.inference_mode():
            return model(xp)[0, 0].item()

    predict_s = median_seconds(predict_step, a.warmup, a.steps)
    print("RESULT " + json.dumps(dict(
        torch=torch.__version__, threads=torch.get_num_threads(),
        params=sum(t.numel() for t in model.parameters()),
        trainImagesPerSec=a.batch / train_s, predictImagesPerSec=a.predict_batch / predict_s)))


if __name__ == "__main__":
    main()
