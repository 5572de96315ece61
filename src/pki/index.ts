/** The PKI of a Mosquitto cluster: one CA on the controller, one TLS server certificate per broker and load balancer. */
export { ensureCa, caPaths, type CaMaterial } from './ca.js';
export { ensureServerCert, hostPaths, type CertMaterial, type ServerCertRequest } from './server.js';
export { describeCert, type CertInfo } from './x509.js';
export { defaultPkiDir, type PkiOptions, DEFAULT_VALIDITY_DAYS, MAX_VALIDITY_DAYS, DEFAULT_RENEW_BEFORE_DAYS } from './options.js';
export type { KeyType } from './sign.js';
export type { Sans } from './names.js';
export { rotateCa, rotationPaths, rotationState, type RotationStage } from './rotation.js';
