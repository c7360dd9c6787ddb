using EfficientViT.ML.Modeling;

namespace EfficientViT.ML.Tests.Modeling;

public class AttentionBiasIndexTests
{
    [Fact]
    public void Two_by_two_grid_worked_out_by_hand()
    {
        // Points in row-major order: p0=(0,0) p1=(0,1) p2=(1,0) p3=(1,1).
        // Offsets (|dy|,|dx|) in order of first appearance: (0,0)=0, (0,1)=1, (1,0)=2, (1,1)=3.
        long[] expected =
        [
            0, 1, 2, 3,
            1, 0, 3, 2,
            2, 3, 0, 1,
            3, 2, 1, 0,
        ];
        Assert.Equal(expected, AttentionBiasIndex.Build(2));
    }

    [Fact]
    public void Three_by_three_grid_first_rows_worked_out_by_hand()
    {
        // From p0=(0,0) every offset appears for the first time, so row 0 numbers them 0..8 in grid order.
        var table = AttentionBiasIndex.Build(3);
        Assert.Equal(Enumerable.Range(0, 9).Select(i => (long)i), table.Take(9));
        // From p4=(1,1): offsets to (0,0),(0,1),(0,2),(1,0),(1,1),(1,2),(2,0),(2,1),(2,2) are
        // (1,1),(1,0),(1,1),(0,1),(0,0),(0,1),(1,1),(1,0),(1,1) -> numbers 4,3,4,1,0,1,4,3,4.
        Assert.Equal(new long[] { 4, 3, 4, 1, 0, 1, 4, 3, 4 }, table.Skip(4 * 9).Take(9));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(7)]
    public void Table_is_symmetric_zero_on_the_diagonal_and_uses_every_offset(int resolution)
    {
        var table = AttentionBiasIndex.Build(resolution);
        var n = resolution * resolution;
        for (var i = 0; i < n; i++)
        {
            Assert.Equal(0, table[i * n + i]);
            for (var j = 0; j < n; j++)
                Assert.Equal(table[i * n + j], table[j * n + i]);
        }
        Assert.Equal(Enumerable.Range(0, AttentionBiasIndex.OffsetCount(resolution)).Select(i => (long)i), table.Distinct().Order());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(7)]
    public void Within_a_grid_of_its_own_side_the_numbers_are_those_of_first_appearance(int side)
    {
        Assert.Equal(AttentionBiasIndex.Build(side), AttentionBiasIndex.BuildWithin(side, side));
    }

    [Fact]
    public void A_two_by_two_map_within_a_four_by_four_table_worked_out_by_hand()
    {
        // Offsets (0,0), (0,1), (1,0), (1,1) are numbered 0, 1, 4, 5 on the 4x4 grid (dy * 4 + dx).
        long[] expected =
        [
            0, 1, 4, 5,
            1, 0, 5, 4,
            4, 5, 0, 1,
            5, 4, 1, 0,
        ];
        Assert.Equal(expected, AttentionBiasIndex.BuildWithin(2, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => AttentionBiasIndex.BuildWithin(5, 4));
    }
}
