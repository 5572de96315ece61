// The stand-in exporter repository lives in src/ (provision demo uses it too); tests import it from here.
export * from '../../src/exporter/stand-in-repo.js';
