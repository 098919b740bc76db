//! Request and response bodies of `/users` and `/user`, and their parsing
//! into validated domain input.

use serde::{Deserialize, Serialize};
use validator::Validate;

use super::model::UserRow;
use crate::domain::{Email, Password, Username};
use crate::error::{AppError, AppResult};
use crate::validation::{self, *};

#[derive(Deserialize, Validate)]
pub struct RegisterRequest {
    #[validate(nested)]
    pub user: NewUserDto,
}

#[derive(Deserialize, Validate)]
pub struct NewUserDto {
    #[validate(
        required(message = "can't be blank"),
        custom(function = "validation::username")
    )]
    pub username: Option<String>,
    #[validate(
        required(message = "can't be blank"),
        custom(function = "validation::email")
    )]
    pub email: Option<String>,
    #[validate(
        required(message = "can't be blank"),
        length(min = PASSWORD_MIN, max = PASSWORD_MAX, message = "must be 8 to 128 characters")
    )]
    pub password: Option<String>,
}

/// A registration that passed validation.
pub struct NewUser {
    pub username: Username,
    pub email: Email,
    pub password: Password,
}

/// Builds a domain value from a field `validator` has already checked with
/// the same rule; a failure here is still reported under the field's name.
pub(crate) fn field<T>(name: &str, parsed: Result<T, &'static str>) -> AppResult<T> {
    parsed.map_err(|message| AppError::field(name, message))
}

impl RegisterRequest {
    pub fn parse(self) -> AppResult<NewUser> {
        self.validate()?;
        let u = self.user;
        let (Some(username), Some(email), Some(password)) = (u.username, u.email, u.password)
        else {
            return Err(AppError::body("username, email and password are required"));
        };
        Ok(NewUser {
            username: field("username", Username::parse(&username))?,
            email: field("email", Email::parse(&email))?,
            password: field("password", Password::new(password))?,
        })
    }
}

#[derive(Deserialize, Validate)]
pub struct LoginRequest {
    #[validate(nested)]
    pub user: LoginDto,
}

#[derive(Deserialize, Validate)]
pub struct LoginDto {
    #[validate(
        required(message = "can't be blank"),
        length(min = 1, max = EMAIL_MAX, message = "can't be blank"),
        custom(function = "validation::storable")
    )]
    pub email: Option<String>,
    #[validate(
        required(message = "can't be blank"),
        length(min = 1, max = PASSWORD_MAX, message = "can't be blank")
    )]
    pub password: Option<String>,
}

pub struct Credentials {
    pub email: Email,
    pub password: Password,
}

impl LoginRequest {
    pub fn parse(self) -> AppResult<Credentials> {
        self.validate()?;
        let (Some(email), Some(password)) = (self.user.email, self.user.password) else {
            return Err(AppError::body("email and password are required"));
        };
        Ok(Credentials {
            email: field("email", Email::for_login(&email))?,
            password: field("password", Password::attempt(password))?,
        })
    }
}

#[derive(Deserialize, Validate)]
pub struct UpdateUserRequest {
    #[validate(nested)]
    pub user: UpdateUserDto,
}

#[derive(Deserialize, Validate)]
pub struct UpdateUserDto {
    #[validate(custom(function = "validation::username"))]
    pub username: Option<String>,
    #[validate(custom(function = "validation::email"))]
    pub email: Option<String>,
    #[validate(length(
        min = PASSWORD_MIN,
        max = PASSWORD_MAX,
        message = "must be 8 to 128 characters"
    ))]
    pub password: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(
        length(max = BIO_MAX, message = "is too long (at most 2000 characters)"),
        custom(function = "validation::storable")
    )]
    pub bio: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(
        length(max = IMAGE_MAX, message = "is too long"),
        custom(function = "validation::image_url")
    )]
    pub image: Option<Option<String>>,
}

/// A validated profile update; `None` fields stay as they are.
pub struct UserUpdate {
    pub username: Option<Username>,
    pub email: Option<Email>,
    pub password: Option<Password>,
    pub bio: Option<Option<String>>,
    pub image: Option<Option<String>>,
}

/// An empty string clears a nullable field, like `null` does.
fn empty_is_null(v: Option<Option<String>>) -> Option<Option<String>> {
    v.map(|inner| inner.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()))
}

impl UpdateUserRequest {
    pub fn parse(self) -> AppResult<UserUpdate> {
        self.validate()?;
        let u = self.user;
        let update = UserUpdate {
            username: u
                .username
                .map(|n| field("username", Username::parse(&n)))
                .transpose()?,
            email: u
                .email
                .map(|e| field("email", Email::parse(&e)))
                .transpose()?,
            password: u
                .password
                .map(|p| field("password", Password::new(p)))
                .transpose()?,
            bio: empty_is_null(u.bio),
            image: empty_is_null(u.image),
        };
        if update.username.is_none()
            && update.email.is_none()
            && update.password.is_none()
            && update.bio.is_none()
            && update.image.is_none()
        {
            return Err(AppError::body("at least one field is required"));
        }
        Ok(update)
    }
}

#[derive(Serialize)]
pub struct UserResponse {
    pub user: UserBody,
}

#[derive(Serialize)]
pub struct UserBody {
    pub email: String,
    pub token: String,
    pub username: String,
    pub bio: Option<String>,
    pub image: Option<String>,
}

impl UserResponse {
    pub fn new(row: UserRow, token: String) -> Self {
        UserResponse {
            user: UserBody {
                email: row.email,
                token,
                username: row.username,
                bio: row.bio,
                image: row.image,
            },
        }
    }
}
