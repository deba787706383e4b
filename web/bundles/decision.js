// esbuild entry (Makefile vendor rule) -> web/static/vendor/baton-decision.js, setting
// window.DmnJS. dmn-js's own prebuilt viewer carries Inferno's development build (it logs a
// console error on every page); bundled here with NODE_ENV=production it does not.
import DmnViewer from 'dmn-js/lib/Viewer';

window.DmnJS = DmnViewer;
