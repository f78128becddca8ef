// 50 MB each way under 1 % and 10 % loss (the suite is in support/bulk.ts).
import { bulkSuite } from "./support/bulk.js";

bulkSuite(["1% loss", "10% loss"]);
