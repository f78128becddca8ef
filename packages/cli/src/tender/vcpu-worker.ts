// The vCPU thread's module, as a file of the build (dist/vcpu-worker.js):
// what the tender's Worker runs. From the sources, the tender runs the same
// function from a data: URL instead.
import util from "node:util";
import v8 from "node:v8";
import vm from "node:vm";
import * as worker from "node:worker_threads";
import { vcpuMain } from "./vcpu.js";

vcpuMain({ vm, v8, util, worker });
