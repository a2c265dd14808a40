import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/log-server.ts', 'src/demo-server.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
});
