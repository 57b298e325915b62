// Precompress the static files Haven serves most (Brotli at its best setting, and gzip), so the
// server sends them compressed without compressing on each request. Run after changing any of
// them (scripts/refresh-govuk-frontend.sh runs it); a test checks the copies match.
import fs from 'node:fs';
import zlib from 'node:zlib';

const files = ['static/haven.css', 'static/haven.js', 'static/govuk/govuk-frontend.min.js'];
for (const file of files) {
  const body = fs.readFileSync(file);
  fs.writeFileSync(`${file}.gz`, zlib.gzipSync(body, { level: 9 }));
  fs.writeFileSync(`${file}.br`, zlib.brotliCompressSync(body, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length },
  }));
  console.log(`${file}: ${body.length} bytes, gzip ${fs.statSync(`${file}.gz`).size}, brotli ${fs.statSync(`${file}.br`).size}`);
}
