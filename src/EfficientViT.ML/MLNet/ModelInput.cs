using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.MLNet;

/// <summary>Where the featurizer's batches come from: a column whose rows each give one model input of 3·S·S floats.</summary>
internal abstract class ModelInput(string columnName, string userColumn)
{
    /// <summary>The column read (an intermediate one for image input).</summary>
    public string ColumnName => columnName;

    /// <summary>The user's input column, for messages.</summary>
    public string UserColumn => userColumn;

    /// <summary>A reader of <paramref name="row"/> (a cursor's rows, or a single row's).</summary>
    public abstract Reader Open(DataViewRow row);

    /// <summary>Reads the current row of one cursor.</summary>
    public abstract class Reader : IDisposable
    {
        /// <summary>Gets the current row's value; its exceptions are the row's data errors (unreadable image, …).</summary>
        public abstract void Fetch();

        /// <summary>Writes the fetched value as model input, or throws an <see cref="InvalidOperationException"/> naming <paramref name="row"/>.</summary>
        public abstract void Write(long row, Span<float> destination);

        public virtual void Dispose()
        {
        }
    }
}
