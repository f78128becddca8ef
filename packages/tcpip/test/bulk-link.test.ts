// 50 MB each way under reordering, duplication, corruption and delay (the suite is in support/bulk.ts).
import { bulkSuite } from "./support/bulk.js";

bulkSuite(["reordering", "duplication", "corruption", "delay and jitter"]);
