//! The public profile of a user, as seen by a viewer.

use serde::Serialize;

#[derive(Serialize, Clone, Debug)]
pub struct Profile {
    pub username: String,
    pub bio: Option<String>,
    pub image: Option<String>,
    pub following: bool,
}

#[derive(Serialize)]
pub struct ProfileResponse {
    pub profile: Profile,
}
