using System.Text;

namespace EfficientViT.ML.Onnx;

/// <summary>
/// Splits one protocol buffers message into its fields, without a schema: enough to find and rewrite a few
/// parts of an ONNX model and copy every other field as it was (see <see cref="ProtobufWriter.WriteRaw"/>).
/// </summary>
internal static class ProtobufReader
{
    /// <summary>One field of a message: its number, wire type, the whole encoding (tag included) and its value.</summary>
    /// <param name="Number">The field number.</param>
    /// <param name="WireType">0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.</param>
    /// <param name="Encoded">The field as it appears in the message, tag included.</param>
    /// <param name="Payload">For a length-delimited field, its bytes (a string, bytes or nested message); else empty.</param>
    /// <param name="Varint">For a varint field, its value.</param>
    internal readonly record struct Field(int Number, int WireType, ReadOnlyMemory<byte> Encoded, ReadOnlyMemory<byte> Payload, ulong Varint)
    {
        /// <summary>The payload as UTF-8 text.</summary>
        public string Text => Encoding.UTF8.GetString(Payload.Span);
    }

    /// <summary>The fields of <paramref name="message"/>, in order.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a well-formed message.</exception>
    public static List<Field> Fields(ReadOnlyMemory<byte> message)
    {
        var fields = new List<Field>();
        var span = message.Span;
        var at = 0;
        while (at < span.Length)
        {
            var start = at;
            var tag = ReadVarint(span, ref at);
            var number = (int)(tag >> 3);
            var wireType = (int)(tag & 7);
            if (number < 1)
                throw new InvalidDataException($"protobuf field number {number} at byte {start}.");
            ReadOnlyMemory<byte> payload = default;
            ulong varint = 0;
            switch (wireType)
            {
                case 0:
                    varint = ReadVarint(span, ref at);
                    break;
                case 1:
                    at = Skip(span, at, 8);
                    break;
                case 5:
                    at = Skip(span, at, 4);
                    break;
                case 2:
                    var length = ReadVarint(span, ref at);
                    if (length > (ulong)(span.Length - at))
                        throw new InvalidDataException($"protobuf field {number} at byte {start} claims {length} bytes; {span.Length - at} remain.");
                    payload = message.Slice(at, (int)length);
                    at += (int)length;
                    break;
                default:
                    throw new InvalidDataException($"protobuf wire type {wireType} (field {number}, byte {start}) is not supported.");
            }
            fields.Add(new Field(number, wireType, message[start..at], payload, varint));
        }
        return fields;
    }

    private static int Skip(ReadOnlySpan<byte> span, int at, int count) =>
        at + count <= span.Length ? at + count : throw new InvalidDataException($"protobuf message ends inside a fixed-size field at byte {at}.");

    private static ulong ReadVarint(ReadOnlySpan<byte> span, ref int at)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (at >= span.Length)
                throw new InvalidDataException("protobuf message ends inside a varint.");
            var b = span[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
                return value;
        }
        throw new InvalidDataException("protobuf varint longer than ten bytes.");
    }
}
