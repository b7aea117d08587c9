// Preloaded into the benchmarked gateway (BENCH_GATEWAY_NODE_OPTIONS="--require ./bench/cpu-profile.js",
// since NODE_OPTIONS refuses --cpu-prof): profiles the whole process and writes
// $BENCH_PROFILE_DIR/gateway-<pid>.cpuprofile when it exits. An in-process inspector session
// answers synchronously, so this works in the 'exit' handler.
const fs = require('node:fs');
const path = require('node:path');
const inspector = require('node:inspector');

const session = new inspector.Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 500 });
session.post('Profiler.start');
process.on('exit', () => {
  session.post('Profiler.stop', (error, result) => {
    if (error) return;
    const dir = process.env.BENCH_PROFILE_DIR ?? '.';
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `gateway-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
  });
});
