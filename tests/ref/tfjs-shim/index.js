// @tensorflow/tfjs stand-in (see package.json): the union of tfjs-core + tfjs-converter with the CPU backend
// registered, all resolved from tests/ref/node_modules so face-api shares the one tfjs-core instance.
//
// tfjs-core's CommonJS build (tf-core.node.js) leaves out the chained tensor methods (t.as3D(), t.div(), ...)
// that the @tensorflow/tfjs union installs; they ship only as ES modules with extensionless imports, which
// Node cannot load. So this file runs tfjs-core's own chained_ops/*.js sources against the CJS instance:
// it drops their import lines and binds each imported name to the matching tfjs-core export.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const core = require('@tensorflow/tfjs-core');
const converter = require('@tensorflow/tfjs-converter');
require('@tensorflow/tfjs-backend-cpu');

function installChainedOps() {
  const dir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-core/package.json')), 'dist/public/chained_ops');
  const scope = { ...core, ...core.image, ...core.spectral, ...core.util, getGlobalTensorClass: () => core.Tensor, Tensor: core.Tensor, assert: core.util.assert };
  for (const file of fs.readdirSync(dir).sort()) {
    if (!file.endsWith('.js') || file.endsWith('_test.js') || file === 'register_all_chained_ops.js') continue;
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    const names = [];
    for (const m of text.matchAll(/^import\s*\{([^}]*)\}\s*from[^;]*;/gm)) {
      for (const n of m[1].split(',')) if (n.trim()) names.push(n.trim().split(/\s+as\s+/).pop());
    }
    const body = text.replace(/^import[^;]*;/gm, '').replace(/^\/\/# sourceMappingURL.*$/m, '');
    const missing = names.filter((n) => !(n in scope));
    if (missing.length) throw new Error(`tfjs shim: ${file} imports ${missing.join(', ')}, not in tfjs-core`);
    new Function(...names, body)(...names.map((n) => scope[n])); // eslint-disable-line no-new-func
  }
}
if (typeof core.Tensor.prototype.as3D !== 'function') installChainedOps();

module.exports = { ...core, ...converter, version: { ...core.version, tfjs: core.version_core } };
