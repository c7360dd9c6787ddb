namespace EfficientViT.ML.Modeling;

/// <summary>
/// The relative-position table of EfficientViT's attention. Each pair of points of an r×r grid maps to
/// its offset (|dy|, |dx|); offsets are numbered in order of first appearance when the first point and
/// then the second run over the grid in row-major order, so a bias vector of r·r entries per head is
/// gathered into an (r·r)×(r·r) bias matrix.
/// </summary>
internal static class AttentionBiasIndex
{
    /// <summary>Number of distinct offsets of an r×r grid: r·r.</summary>
    public static int OffsetCount(int resolution) => resolution * resolution;

    /// <summary>The (r·r)×(r·r) table of offset numbers, row-major (row = query point, column = key point).</summary>
    public static long[] Build(int resolution)
    {
        var points = resolution * resolution;
        var offsets = new Dictionary<(int, int), long>();
        var table = new long[points * points];
        for (var p1 = 0; p1 < points; p1++)
        {
            for (var p2 = 0; p2 < points; p2++)
            {
                var offset = (Math.Abs(p1 / resolution - p2 / resolution), Math.Abs(p1 % resolution - p2 % resolution));
                if (!offsets.TryGetValue(offset, out var number))
                {
                    number = offsets.Count;
                    offsets.Add(offset, number);
                }
                table[p1 * points + p2] = number;
            }
        }
        return table;
    }

    /// <summary>
    /// The (s·s)×(s·s) table for an s×s map smaller than the r×r grid a table of offsets was built for
    /// (<paramref name="side"/> ≤ <paramref name="resolution"/>): each pair's offset (|dy|, |dx|) has the number
    /// <see cref="Build"/> gave it on the larger grid, dy·r + dx (its first appearance is from point 0, in grid order).
    /// </summary>
    public static long[] BuildWithin(int side, int resolution)
    {
        if (side < 1 || side > resolution)
            throw new ArgumentOutOfRangeException(nameof(side), side, $"the map's side must be from 1 to the table's {resolution}.");
        var points = side * side;
        var table = new long[points * points];
        for (var p1 = 0; p1 < points; p1++)
            for (var p2 = 0; p2 < points; p2++)
                table[p1 * points + p2] = Math.Abs(p1 / side - p2 / side) * resolution + Math.Abs(p1 % side - p2 % side);
        return table;
    }
}
