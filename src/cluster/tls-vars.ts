import { z } from 'zod';

export const tlsVars = {
  pki_dir: z.string().min(1).optional(),
  tls_key_type: z.enum(['ec', 'rsa']).default('ec'),
  tls_extra_sans: z.array(z.string().min(1)).default([]),
  tls_renew_before_days: z.number().int().min(1).default(30),
  tls_ca_cert: z.string().min(1).optional(),
  tls_ca_key: z.string().min(1).optional(),
  cluster_vip: z.string().min(1).optional(),
};
