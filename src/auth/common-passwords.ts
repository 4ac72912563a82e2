/**
 * Passwords of 8+ characters that top the published lists of leaked
 * passwords; compared case-insensitively. A registration using one gets 400
 * `weak_password`.
 */
const LIST = `
12345678 123456789 1234567890 12345678910 123123123 123456789a 1234567890a 11111111 111111111
00000000 000000000 88888888 87654321 987654321 0987654321 11223344 12341234 12344321 147258369
123321123 123654789 159753456 1q2w3e4r 1q2w3e4r5t 1q2w3e4r5t6y 1qaz2wsx 1qaz2wsx3edc 2wsx3edc
q1w2e3r4 q1w2e3r4t5 qwertyui qwertyuiop qwerty123 qwerty1234 qwerty12345 qwertyuiop123 asdfghjk
asdfghjkl asdf1234 zxcvbnm1 zxcvbnm123 1234qwer qazwsxedc qweasdzxc zaq12wsx zaq1zaq1 aaaaaaaa
password password1 password12 password123 password1234 passw0rd p@ssw0rd p@ssword pa$$w0rd
password! password01 passwort passwort1 motdepasse contraseña iloveyou iloveyou1 iloveyou2
iloveyou! sunshine sunshine1 princess princess1 football football1 baseball basketball superman
batman123 starwars starwars1 trustno1 whatever computer internet welcome1 welcome123 welcome!
letmein1 letmein123 abcd1234 abc12345 abc123456 abcdefgh abcdefg1 a1234567 a12345678 aa123456
aa12345678 1234abcd 12qwaszx changeme changeme1 admin123 admin1234 administrator adminadmin
root1234 rootroot master123 mustang1 michelle jennifer jordan23 charlie1 shadow12 monkey123
dragon12 dragon123 lovelove loveyou1 chocolate butterfly liverpool arsenal1 chelsea1 manchester
samsung1 samsung123 google123 facebook myspace1 linkedin azertyui azertyuiop 123azerty
secret123 test1234 testtest test12345 guest123 hello123 hello1234 helloworld freedom1 whatever1
111222333 112233445566 123qweasd 123qweasdzxc 1234512345 5201314520 741852963 789456123 963852741
18atcskd2w 3rjs1la7qe 7777777 77777777 99999999 66666666 55555555 22222222 12121212 qqqqqqqq
`;

export const COMMON_PASSWORDS: ReadonlySet<string> = new Set(LIST.split(/\s+/).filter(Boolean));

export function isCommonPassword(password: string): boolean {
  return COMMON_PASSWORDS.has(password.toLowerCase());
}
