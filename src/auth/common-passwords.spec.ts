import { dictionary } from '@zxcvbn-ts/language-common';
import { isCommonPassword } from './common-passwords';

describe('isCommonPassword', () => {
  const list = dictionary['passwords-common'];

  it('knows the whole maintained list, tens of thousands of entries', () => {
    expect(list.length).toBeGreaterThan(30_000);
    // Entries from the top, the middle and the end of the list.
    for (const entry of [list[0], list[1000], list[Math.floor(list.length / 2)], list.at(-1)!]) {
      expect(isCommonPassword(entry)).toBe(true);
    }
    expect(list.every(isCommonPassword)).toBe(true);
  });

  it.each(['password', 'PASSWORD', 'Qwertyuiop', 'iLoveYou1', 'baseball', 'trustno1'])(
    'finds %s, ignoring case',
    (password) => expect(isCommonPassword(password)).toBe(true),
  );

  it.each(['correct horse battery staple', 'Zq8#mK2p-long', 'pw-4mQ9xVb2LkT7'])(
    'lets %s through',
    (password) => expect(isCommonPassword(password)).toBe(false),
  );
});
