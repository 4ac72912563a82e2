//+------------------------------------------------------------------+
//| DeviceSigning.mqh                                                |
//| Signs Device Registry device requests (HMAC-SHA256) from MQL5.   |
//|                                                                  |
//| Not compiled or run by the project's CI: check it once in your   |
//| terminal with DeviceSigningSelfTest(), which recomputes the      |
//| first vector of src/device-auth/signing.vectors.json.            |
//|                                                                  |
//| Canonical string (six lines joined by "\n", no trailing newline):|
//|   METHOD, path+query as sent, X-Timestamp, X-Nonce, X-Device-Id, |
//|   lower-case hex SHA-256 of the raw body bytes                   |
//| X-Signature = base64(HMAC-SHA256(utf8(secret incl. "dvs_"), it)) |
//|                                                                  |
//| WebRequest needs the registry's URL in Tools > Options > Expert  |
//| Advisors > "Allow WebRequest for listed URL", and is not         |
//| available in indicators or in the Strategy Tester.               |
//+------------------------------------------------------------------+
#define DS_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DS_HMAC_BLOCK 64
#define DS_NONCE_ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

//--- UTF-8 bytes of a string, without the terminating zero that StringToCharArray adds.
void DsUtf8(const string text, uchar &bytes[])
  {
   int n = StringToCharArray(text, bytes, 0, WHOLE_ARRAY, CP_UTF8);
   ArrayResize(bytes, n > 0 ? n - 1 : 0);
  }

//--- Lower-case hex of a byte array.
string DsHex(const uchar &bytes[])
  {
   string hex = "";
   for(int i = 0; i < ArraySize(bytes); i++)
      hex += StringFormat("%02x", bytes[i]);
   return hex;
  }

//--- Lower-case hex SHA-256 of the raw body bytes (of the empty string when there is no body).
string DsBodySha256Hex(const uchar &body[])
  {
   // The constant avoids relying on how CryptEncode treats an empty input.
   if(ArraySize(body) == 0)
      return DS_EMPTY_SHA256;
   uchar none[], digest[];
   if(CryptEncode(CRYPT_HASH_SHA256, body, none, digest) != 32)
      return "";
   return DsHex(digest);
  }

//--- HMAC-SHA256 (RFC 2104) on top of CryptEncode's SHA-256: MQL5 has no HMAC.
bool DsHmacSha256(const uchar &key[], const uchar &message[], uchar &mac[])
  {
   uchar none[], k[];
   // A key longer than the block is replaced by its hash; a shorter one is zero-padded.
   if(ArraySize(key) > DS_HMAC_BLOCK)
     {
      if(CryptEncode(CRYPT_HASH_SHA256, key, none, k) != 32)
         return false;
     }
   else
      ArrayCopy(k, key);

   uchar inner[], outer[], innerDigest[];
   ArrayResize(inner, DS_HMAC_BLOCK + ArraySize(message));
   ArrayResize(outer, DS_HMAC_BLOCK + 32);
   for(int i = 0; i < DS_HMAC_BLOCK; i++)
     {
      uchar b = (i < ArraySize(k)) ? k[i] : (uchar)0;
      inner[i] = (uchar)(b ^ 0x36);
      outer[i] = (uchar)(b ^ 0x5c);
     }
   if(ArraySize(message) > 0)
      ArrayCopy(inner, message, DS_HMAC_BLOCK, 0, WHOLE_ARRAY);
   if(CryptEncode(CRYPT_HASH_SHA256, inner, none, innerDigest) != 32)
      return false;
   ArrayCopy(outer, innerDigest, DS_HMAC_BLOCK, 0, 32);
   return CryptEncode(CRYPT_HASH_SHA256, outer, none, mac) == 32;
  }

//--- The six lines the signature covers.
string DsCanonicalString(const string method, const string path, const string timestamp,
                         const string nonce, const string deviceId, const uchar &body[])
  {
   string upper = method;
   StringToUpper(upper);
   return upper + "\n" + path + "\n" + timestamp + "\n" + nonce + "\n" + deviceId + "\n" +
          DsBodySha256Hex(body);
  }

//--- X-Signature: standard base64 (with padding) of the HMAC; "" on failure.
string DsSignature(const string secret, const string method, const string path,
                   const string timestamp, const string nonce, const string deviceId,
                   const uchar &body[])
  {
   uchar key[], message[], mac[], none[], b64[];
   DsUtf8(secret, key);
   DsUtf8(DsCanonicalString(method, path, timestamp, nonce, deviceId, body), message);
   if(!DsHmacSha256(key, message, mac))
      return "";
   if(CryptEncode(CRYPT_BASE64, mac, none, b64) <= 0)
      return "";
   return CharArrayToString(b64, 0, WHOLE_ARRAY, CP_ACP);
  }

//--- A fresh nonce: unique, not secret, so MathRand is enough. 16-128 chars of [A-Za-z0-9_-].
string DsNewNonce()
  {
   static bool seeded = false;
   if(!seeded)
     {
      MathSrand((uint)(GetMicrosecondCount() ^ (ulong)TimeLocal()));
      seeded = true;
     }
   string nonce = IntegerToString((long)GetMicrosecondCount()) + "-";
   for(int i = 0; i < 16; i++)
      nonce += StringSubstr(DS_NONCE_ALPHABET, MathRand() % 64, 1);
   return nonce;
  }

//--- The X-* header lines for WebRequest, each ending in "\r\n"; "" on failure.
//--- With a body, X-Content-SHA256 too: a proxy verifying the request through
//--- the registry (forward auth) does not pass the body, so it needs the hash.
string DsSignedHeaders(const string deviceId, const string secret, const string method,
                       const string path, const uchar &body[])
  {
   string timestamp = IntegerToString((long)TimeGMT());
   string nonce = DsNewNonce();
   string signature = DsSignature(secret, method, path, timestamp, nonce, deviceId, body);
   if(signature == "")
      return "";
   string headers = "X-Device-Id: " + deviceId + "\r\n" +
                    "X-Timestamp: " + timestamp + "\r\n" +
                    "X-Nonce: " + nonce + "\r\n" +
                    "X-Signature: " + signature + "\r\n";
   if(ArraySize(body) > 0)
      headers += "X-Content-SHA256: " + DsBodySha256Hex(body) + "\r\n";
   return headers;
  }

//--- Example: POST /api/v1/device/heartbeat with a small JSON body.
//--- Returns the HTTP status (204 on success) or -1 (see GetLastError()).
//--- baseUrl without a trailing slash, e.g. "https://registry.example.com".
int DeviceHeartbeat(const string baseUrl, const string deviceId, const string secret)
  {
   string path = "/api/v1/device/heartbeat";
   string json = StringFormat("{\"status\":\"ok\",\"equity\":%.2f}",
                              AccountInfoDouble(ACCOUNT_EQUITY));
   uchar body[];
   DsUtf8(json, body);

   string headers = DsSignedHeaders(deviceId, secret, "POST", path, body);
   if(headers == "")
      return -1;
   headers = "Content-Type: application/json\r\n" + headers;

   // Send exactly the bytes that were hashed (WebRequest takes char[]).
   char data[], result[];
   ArrayResize(data, ArraySize(body));
   for(int i = 0; i < ArraySize(body); i++)
      data[i] = (char)body[i];
   string responseHeaders;
   int status = WebRequest("POST", baseUrl + path, headers, 5000, data, result, responseHeaders);
   if(status == -1)
      PrintFormat("heartbeat: WebRequest failed, error %d", GetLastError());
   else if(status != 204)
     {
      uchar text[];
      ArrayResize(text, ArraySize(result));
      for(int i = 0; i < ArraySize(result); i++)
         text[i] = (uchar)result[i];
      PrintFormat("heartbeat: HTTP %d %s", status, CharArrayToString(text, 0, WHOLE_ARRAY, CP_UTF8));
     }
   return status;
  }

//--- Recomputes vector "heartbeat" of src/device-auth/signing.vectors.json.
bool DeviceSigningSelfTest()
  {
   uchar raw[32], none[], b64[], secretBytes[];
   for(int i = 0; i < 32; i++)
      raw[i] = (uchar)i;
   if(CryptEncode(CRYPT_BASE64, raw, none, b64) <= 0)
      return false;
   // base64url without padding: the secret of the vectors is dvs_AAECAwQF...Hh8
   string encoded = CharArrayToString(b64, 0, WHOLE_ARRAY, CP_ACP);
   StringReplace(encoded, "+", "-");
   StringReplace(encoded, "/", "_");
   StringReplace(encoded, "=", "");
   string secret = "dvs_" + encoded;

   uchar body[];
   DsUtf8("{\"status\":\"ok\",\"equity\":10250.5}", body);
   string got = DsSignature(secret, "POST", "/api/v1/device/heartbeat", "1795852800",
                            "n0nce-0123456789abcdef", "3f1c2a4e-8b7d-4c6e-9a5f-1d2e3f4a5b6c", body);
   bool ok = secret == "dvs_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8" &&
             got == "dpMqLPulO8ykbA+W9mhMFeME26jodZdAEgDcuJQAMfk=";
   PrintFormat("DeviceSigningSelfTest: %s", ok ? "ok" : "MISMATCH " + got);
   return ok;
  }

//--- Usage in an Expert Advisor (keep the secret out of logs and screenshots):
//
//   #include <DeviceSigning.mqh>
//   input string InpRegistryUrl = "https://registry.example.com";
//   input string InpDeviceId    = "";
//   input string InpDeviceSecret = "";
//
//   int OnInit()  { if(!DeviceSigningSelfTest()) return INIT_FAILED; EventSetTimer(60); return INIT_SUCCEEDED; }
//   void OnDeinit(const int reason) { EventKillTimer(); }
//   void OnTimer() { DeviceHeartbeat(InpRegistryUrl, InpDeviceId, InpDeviceSecret); }
//+------------------------------------------------------------------+
