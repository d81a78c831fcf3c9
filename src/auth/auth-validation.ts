import { z } from 'zod';

/** Body of `POST /api/auth/signup` and `POST /api/auth/login`. */
export const credentialsSchema = z.strictObject({
  username: z.string().regex(/^[a-z0-9_]{3,32}$/, 'must be 3 to 32 characters of a-z, 0-9 and _'),
  password: z
    .string()
    .min(8, 'must be at least 8 characters')
    .max(128, 'must be at most 128 characters'),
});

export type Credentials = z.output<typeof credentialsSchema>;
