//! Each agency's white-label brand: the product name, logo and colours its users see on
//! every dashboard page and in its emails. An agency without one gets [`Brand::default`].

use domain::AgencyId;
use sqlx::Row;

use crate::error::StoreError;
use crate::store::Store;
use crate::tenant::TenantScope;

/// A brand as stored. Callers validate it (the dashboard's settings page does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    pub product_name: String,
    /// An https URL, or none.
    pub logo_url: Option<String>,
    /// `#rrggbb`.
    pub primary_color: String,
    /// `#rrggbb`.
    pub accent_color: String,
}

impl Default for Brand {
    fn default() -> Self {
        Self {
            product_name: "Switchboard".into(),
            logo_url: None,
            primary_color: "#1f4fd1".into(),
            accent_color: "#0b7a5a".into(),
        }
    }
}

impl Store {
    /// The agency's brand, or the default.
    pub async fn brand(&self, agency: &AgencyId) -> Result<Brand, StoreError> {
        let row = sqlx::query(
            "SELECT product_name, logo_url, primary_color, accent_color FROM brands \
             WHERE agency_id = $1",
        )
        .bind(agency.as_str())
        .fetch_optional(self.db().reader())
        .await?;
        let Some(row) = row else {
            return Ok(Brand::default());
        };
        Ok(Brand {
            product_name: row.try_get("product_name")?,
            logo_url: row.try_get("logo_url")?,
            primary_color: row.try_get("primary_color")?,
            accent_color: row.try_get("accent_color")?,
        })
    }

    /// Replaces the scope's agency's brand.
    pub async fn set_brand(&self, scope: &TenantScope, brand: &Brand) -> Result<(), StoreError> {
        let mut tx = self.begin_for(scope).await?;
        sqlx::query(
            "INSERT INTO brands (agency_id, product_name, logo_url, primary_color, accent_color, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (agency_id) DO UPDATE SET \
             product_name = excluded.product_name, logo_url = excluded.logo_url, \
             primary_color = excluded.primary_color, accent_color = excluded.accent_color, \
             updated_at = excluded.updated_at",
        )
        .bind(scope.agency_id().as_str())
        .bind(&brand.product_name)
        .bind(brand.logo_url.as_deref())
        .bind(&brand.primary_color)
        .bind(&brand.accent_color)
        .bind(self.now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
