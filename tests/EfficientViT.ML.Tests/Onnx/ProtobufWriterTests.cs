using EfficientViT.ML.Onnx;

namespace EfficientViT.ML.Tests.Onnx;

/// <summary>The wire format byte by byte, against the worked examples of the protobuf encoding guide.</summary>
public sealed class ProtobufWriterTests
{
    private static byte[] Write(Action<ProtobufWriter> write)
    {
        var writer = new ProtobufWriter(initialCapacity: 0);
        write(writer);
        return writer.ToArray();
    }

    [Fact]
    public void Varint_150_in_field_1()
    {
        Assert.Equal([0x08, 0x96, 0x01], Write(w => w.WriteVarint(1, 150)));
    }

    [Fact]
    public void Negative_int64_takes_ten_bytes()
    {
        Assert.Equal([0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], Write(w => w.WriteVarint(1, -1)));
    }

    [Fact]
    public void Large_field_numbers_take_a_multi_byte_tag()
    {
        // Field 20, varint: (20 << 3) | 0 = 160 = 0xA0 0x01.
        Assert.Equal([0xA0, 0x01, 0x07], Write(w => w.WriteVarint(20, 7)));
    }

    [Fact]
    public void String_testing_in_field_2()
    {
        Assert.Equal([0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6E, 0x67], Write(w => w.WriteString(2, "testing")));
    }

    [Fact]
    public void Strings_are_utf8()
    {
        Assert.Equal([0x0A, 0x02, 0xC3, 0xA9], Write(w => w.WriteString(1, "é")));
    }

    [Fact]
    public void Float_is_fixed32_little_endian()
    {
        Assert.Equal([0x15, 0x00, 0x00, 0x80, 0x3F], Write(w => w.WriteFloat(2, 1.0f)));
    }

    [Fact]
    public void Packed_int64_3_270_86942_in_field_4()
    {
        Assert.Equal([0x22, 0x06, 0x03, 0x8E, 0x02, 0x9E, 0xA7, 0x05], Write(w => w.WritePackedInt64(4, [3, 270, 86942])));
    }

    [Fact]
    public void Packed_float_is_one_record_of_fixed32()
    {
        Assert.Equal([0x3A, 0x08, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0], Write(w => w.WritePackedFloat(7, [1f, -2f])));
    }

    [Fact]
    public void Empty_packed_fields_are_left_out()
    {
        Assert.Empty(Write(w =>
        {
            w.WritePackedInt64(4, []);
            w.WritePackedFloat(5, []);
        }));
    }

    [Fact]
    public void Unpacked_repeated_fields_repeat_the_tag()
    {
        Assert.Equal([0x08, 0x01, 0x08, 0x02], Write(w => w.WriteRepeatedInt64(1, [1, 2])));
        Assert.Equal([0x15, 0x00, 0x00, 0x80, 0x3F, 0x15, 0x00, 0x00, 0x00, 0x40], Write(w => w.WriteRepeatedFloat(2, [1f, 2f])));
    }

    [Fact]
    public void Nested_message_150_in_field_3()
    {
        Assert.Equal([0x1A, 0x03, 0x08, 0x96, 0x01], Write(w => w.WriteMessage(3, m => m.WriteVarint(1, 150))));
    }

    [Fact]
    public void Empty_nested_message_is_a_zero_length_record()
    {
        Assert.Equal([0x12, 0x00], Write(w => w.WriteMessage(2, _ => { })));
    }

    [Theory]
    [InlineData(125)] // content 127 bytes: one length byte
    [InlineData(126)] // content 128 bytes: the length needs two bytes and the content moves
    [InlineData(20000)] // content over 16383 bytes: three length bytes
    public void Nested_messages_whose_length_needs_more_bytes_keep_their_content(int payloadLength)
    {
        byte[] payload = Enumerable.Range(0, payloadLength).Select(i => (byte)(i * 7 + 1)).ToArray();

        byte[] written = Write(w =>
        {
            w.WriteVarint(1, 5);
            w.WriteMessage(2, outer =>
            {
                outer.WriteMessage(3, inner => inner.WriteBytes(4, payload));
                outer.WriteVarint(5, 9);
            });
            w.WriteVarint(6, 1);
        });

        // Build the expected bytes from the inside out with explicit lengths.
        byte[] innerContent = [0x22, .. Varint((ulong)payload.Length), .. payload];
        byte[] outerContent = [0x1A, .. Varint((ulong)innerContent.Length), .. innerContent, 0x28, 0x09];
        byte[] expected = [0x08, 0x05, 0x12, .. Varint((ulong)outerContent.Length), .. outerContent, 0x30, 0x01];
        Assert.Equal(expected, written);
    }

    [Theory]
    [InlineData(0UL, 1)]
    [InlineData(127UL, 1)]
    [InlineData(128UL, 2)]
    [InlineData(16383UL, 2)]
    [InlineData(16384UL, 3)]
    [InlineData(ulong.MaxValue, 10)]
    public void Varint_sizes(ulong value, int size) => Assert.Equal(size, ProtobufWriter.VarintSize(value));

    [Fact]
    public void Field_numbers_are_checked()
    {
        var writer = new ProtobufWriter();
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.WriteVarint(0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.WriteVarint(1 << 29, 1));
    }

    // An independent varint encoder (7 bits at a time, low group first), for the expected bytes above.
    private static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>();
        do
        {
            byte group = (byte)(value & 0x7F);
            value >>= 7;
            bytes.Add(value == 0 ? group : (byte)(group | 0x80));
        }
        while (value != 0);
        return [.. bytes];
    }
}
