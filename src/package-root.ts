/** The installed package's root folder (holding package.json, templates/ and schema/). */
import { fileURLToPath } from 'node:url';

// Compiled code lives in dist/src/, two levels below the root.
export const PACKAGE_ROOT: string = fileURLToPath(new URL('../../', import.meta.url));
