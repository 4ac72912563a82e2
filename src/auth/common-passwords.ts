/**
 * The common-password dictionary of zxcvbn-ts (`@zxcvbn-ts/language-common`,
 * about 49,000 leaked passwords ranked by frequency, maintained upstream). A
 * registration whose password, lower-cased, is one of them gets 400
 * `weak_password`; the entries are all lower case.
 *
 * Loaded on first use, not at start: decompressing the package's dictionary
 * takes some 50 ms and 4 MB of heap, which a start that registers nobody (a
 * device-only instance, a restart) need not pay.
 */
let passwords: ReadonlySet<string> | undefined;

function commonPasswords(): ReadonlySet<string> {
  if (!passwords) {
    const { dictionary } =
      require('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
    passwords = new Set(dictionary['passwords-common']);
  }
  return passwords;
}

export function isCommonPassword(password: string): boolean {
  return commonPasswords().has(password.toLowerCase());
}
