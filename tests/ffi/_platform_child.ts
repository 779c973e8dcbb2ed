// Child of arm64_test.ts: prints the detected host and platform id as JSON.
import { currentPlatformId, detectHost } from "../../ffi/platform.ts";
console.log(JSON.stringify({ host: detectHost(), id: currentPlatformId() }));
