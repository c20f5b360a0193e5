"""Run narrowrelu.learn on a .npy pair directory; RSS peak and, at the peak of traced memory, the top
allocation sites."""
import json
import sys
import threading
import time
import tracemalloc

import narrowrelu as nr

folder, k = sys.argv[1], int(sys.argv[2])
opts = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) * 1024
print("start rss MB", rss() / 2**20)
tracemalloc.start(6)
state = {"rss": 0, "traced": 0, "snap": None, "stop": False}
def sample():
    while not state["stop"]:
        state["rss"] = max(state["rss"], rss())
        cur = tracemalloc.get_traced_memory()[0]
        if cur > state["traced"] + 30 * 2**20:
            state["traced"], state["snap"] = cur, tracemalloc.take_snapshot()
        time.sleep(0.05)
t = threading.Thread(target=sample, daemon=True)
t.start()
net = nr.learn(folder, None, k, random_state=0, **opts)
state["stop"] = True
t.join()
print("peak rss MB", state["rss"] / 2**20, "traced peak MB", tracemalloc.get_traced_memory()[1] / 2**20,
      "largest snapshot MB", state["traced"] / 2**20)
for stat in state["snap"].statistics("traceback")[:8]:
    print(f"{stat.size / 2**20:8.1f} MB")
    for line in stat.traceback.format()[-6:]:
        print("   ", line)
print(net.report.passes, "passes")
