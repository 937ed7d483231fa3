// Package wire holds the Bedrock Runtime wire protocol that the emulator (bedrocktest) and
// the gateway share: request paths, the restJson1 request and response shapes of Converse,
// InvokeModel (Anthropic Messages bodies) and CountTokens, error responses, and
// event-stream framing for ConverseStream and InvokeModelWithResponseStream.
//
// The shapes follow the AWS API reference and the aws-sdk-go-v2 bedrockruntime schemas;
// they carry only the members Tollgate reads or writes, and unknown members are ignored
// when decoding, as the service's own JSON decoding does for forward compatibility.
// Framing uses aws-sdk-go-v2's eventstream encoder, so CRCs and header encodings are the
// SDK's own.
package wire
